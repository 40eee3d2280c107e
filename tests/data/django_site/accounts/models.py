from django.contrib.auth.models import User
from django.db import models

from blog.models import Post


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE)
    favourite = models.ForeignKey(Post, null=True, on_delete=models.SET_NULL)
