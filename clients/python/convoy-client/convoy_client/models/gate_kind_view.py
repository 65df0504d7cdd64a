from enum import StrEnum


class GateKindView(StrEnum):
    BAKE = "bake"
    MIN_HEALTHY = "min_healthy"
    MONITOR = "monitor"
    WAIT = "wait"

    def __str__(self) -> str:
        return str(self.value)
