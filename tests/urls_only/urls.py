from django.urls import path

from tests.urls_only import views

urlpatterns = [path("chapters/", views.ChapterTitles.as_view())]
