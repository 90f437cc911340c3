print("swapline")
