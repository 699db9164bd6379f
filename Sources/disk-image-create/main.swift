print("disk-image-create")
