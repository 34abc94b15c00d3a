from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "epitrace.hub.exchange"
    label = "exchange"
    verbose_name = "Data requests and answers"
