"""Tasks the real-process tests hand to workers: each appends its number to a file."""

import time


def record(path: str, number: int, seconds: float = 0.05) -> None:
    time.sleep(seconds)
    with open(path, "a") as out:
        out.write(f"{number}\n")
