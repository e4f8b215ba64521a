class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        return self.balance


account = Account("ada")
for amount in map(int, input().split()):
    account.deposit(amount)
print(account.owner, account.balance)
