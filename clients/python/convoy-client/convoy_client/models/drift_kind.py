from enum import StrEnum


class DriftKind(StrEnum):
    EXITED = "exited"
    EXTRA = "extra"
    MISSING = "missing"
    UNHEALTHY = "unhealthy"
    VERSION_DIFFERS = "version_differs"

    def __str__(self) -> str:
        return str(self.value)
