from enum import StrEnum


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
