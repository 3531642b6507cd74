print("pocketclip")
