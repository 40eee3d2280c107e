from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    review = models.OneToOneField("blog.Post", null=True, on_delete=models.SET_NULL)


class Order(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    buyer = models.ForeignKey(
        "accounts.Profile",
        on_delete=models.CASCADE,
        related_name="orders",
    )
    tags = models.ManyToManyField("blog.Tag")
