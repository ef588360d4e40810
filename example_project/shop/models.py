from __future__ import annotations

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=120)
    sku = models.CharField(max_length=32, unique=True)
    category = models.CharField(max_length=64, default="food-and-beverage")
    price = models.PositiveBigIntegerField(help_text="Whole rupiah.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
