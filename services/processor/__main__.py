"""`python -m services.processor`: the processor worker, configured by GEOCUBE_PROCESSOR_* variables."""

from services.processor.settings import ProcessorSettings
from services.processor.worker import start
from services.worker.cli import main

if __name__ == "__main__":
    main("processor", ProcessorSettings, start)
