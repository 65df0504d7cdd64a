from enum import StrEnum


class OnFailure(StrEnum):
    HALT = "halt"
    ROLLBACK = "rollback"

    def __str__(self) -> str:
        return str(self.value)
