app = "not a Schedo app"
