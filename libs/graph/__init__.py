"""The processing-graph engine (spec §6): loading JSON graphs, rendering and running their steps, and
selecting the out-files the downloader and the processor upload, index or delete."""

from libs.graph.loader import load_graph
from libs.graph.model import Graph, GraphResult, StepError
from libs.graph.run import RunOptions, input_files, run_graph

__all__ = ["Graph", "GraphResult", "RunOptions", "StepError", "input_files", "load_graph", "run_graph"]
