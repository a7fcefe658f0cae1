"""`python -m services.downloader`: the downloader worker, configured by GEOCUBE_DOWNLOADER_* variables."""

from services.downloader.settings import DownloaderSettings
from services.downloader.worker import start
from libs.worker import cli


def main() -> None:
    cli.main("downloader", DownloaderSettings, start)


if __name__ == "__main__":
    main()
