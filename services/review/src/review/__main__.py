"""``python -m review serve | migrate | relay | consume``."""

from mc_events import service
from review.bootstrap import build


def main() -> None:
    service.main(build)


if __name__ == "__main__":
    main()
