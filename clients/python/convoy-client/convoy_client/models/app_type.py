from enum import StrEnum


class AppType(StrEnum):
    GENERIC = "generic"
    MYSQL = "mysql"
    NEXTJS = "nextjs"
    POSTGRES = "postgres"
    RAILS = "rails"
    REDIS = "redis"
    WORKER = "worker"

    def __str__(self) -> str:
        return str(self.value)
