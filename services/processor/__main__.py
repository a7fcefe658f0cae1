"""`python -m services.processor`: the processor worker, configured by GEOCUBE_PROCESSOR_* variables."""

from services.processor.settings import ProcessorSettings
from services.processor.worker import start
from libs.worker import cli


def main() -> None:
    cli.main("processor", ProcessorSettings, start)


if __name__ == "__main__":
    main()
