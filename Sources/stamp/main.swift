print("stamp")
