from enum import StrEnum


class VariableType(StrEnum):
    BOOLEAN = "boolean"
    HOST = "host"
    HOST_LIST = "host_list"
    INTEGER = "integer"
    LIST = "list"
    MAP = "map"
    STRING = "string"

    def __str__(self) -> str:
        return str(self.value)
