from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    name = "epitrace.hub.disclosure"
    label = "disclosure"
    verbose_name = "Public disclosure"
    default_auto_field = "django.db.models.BigAutoField"
