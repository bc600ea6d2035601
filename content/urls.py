from django.urls import path

from . import views

app_name = "content"
urlpatterns = [
    path("i/<uuid:key>.<str:ext>", views.design_image, name="design-image"),
]
