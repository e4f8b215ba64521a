import sys
from collections import Counter

counts = Counter()
for line in sys.stdin:
    for word in line.lower().split():
        counts[word.strip(".,!?")] += 1
for word, count in counts.most_common(3):
    print(word, count)
