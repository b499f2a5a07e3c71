"""``python -m registry serve | migrate | relay | consume``."""

from mc_platform import service
from registry.bootstrap import build


def main() -> None:
    service.main(build)


if __name__ == "__main__":
    main()
