name = input().strip()
greeting = "hello, " + name
print(greeting)
