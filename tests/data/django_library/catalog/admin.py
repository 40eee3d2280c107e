from django.contrib import admin

from catalog.models import Book

admin.site.register(Book)
