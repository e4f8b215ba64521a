stock = {"apples": 3, "pears": 0}
wanted = input().strip()
print(stock[wanted])
