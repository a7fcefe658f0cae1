"""`python -m services.downloader`: the downloader worker, configured by GEOCUBE_DOWNLOADER_* variables."""

from services.downloader.settings import DownloaderSettings
from services.downloader.worker import start
from services.worker.cli import main

if __name__ == "__main__":
    main("downloader", DownloaderSettings, start)
