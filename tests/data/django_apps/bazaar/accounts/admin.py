from django.contrib import admin

from bazaar.accounts.models import Account

admin.bazaar.register(Account)
