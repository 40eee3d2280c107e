INSTALLED_APPS = ["django.contrib.auth", "bazaar.accounts", "bazaar.orders"]
SECRET_KEY = "fixture"
