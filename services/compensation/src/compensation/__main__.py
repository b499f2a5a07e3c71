"""``python -m compensation serve | migrate | relay | consume``."""

from compensation.bootstrap import build
from mc_platform import service


def main() -> None:
    service.main(build)


if __name__ == "__main__":
    main()
