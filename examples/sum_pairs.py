n = int(input())
totals = []
for _ in range(n):
    a, b = map(int, input().split())
    totals.append(a + b)
print(*totals, sep="\n")
