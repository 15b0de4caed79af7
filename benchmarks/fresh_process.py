"""Runs a function in a new Python process, so its memory ends with it.

A TensorFlow process seldom gives memory back: tensors freed by one stage of
a benchmark stay resident under the next, and the peaks of stages add up.
``run`` calls a module-level function in a process started by
``multiprocessing``'s spawn method (a new interpreter: no TensorFlow state
is forked) and returns what the function returns, with the process's peak
resident memory. Arrays travel through files, not through the call: pass
paths and write results to disk where they are large.
"""

import multiprocessing
from typing import Any, Callable, Tuple

from benchmarks import common


def _child(connection, function: Callable[..., Any], args: Tuple) -> None:
  """Runs in the new process: sends (result, peak RSS MiB) back."""
  result = function(*args)
  connection.send((result, round(common.memory_mib("VmHWM"), 1)))
  connection.close()


def run(function: Callable[..., Any], *args) -> Tuple[Any, float]:
  """``function(*args)`` in a new process; (its result, its peak RSS MiB).

  ``function`` must be importable by name (defined at a module's top level)
  and its arguments and result picklable. The process's output goes to this
  process's stdout and stderr.

  Raises:
    RuntimeError: if the process ends without a result (an exception, or
      killed: -9 is what the kernel's out-of-memory killer sends).
  """
  context = multiprocessing.get_context("spawn")
  receiver, sender = context.Pipe(duplex=False)
  process = context.Process(target=_child, args=(sender, function, args),
                            name=getattr(function, "__name__", "child"))
  process.start()
  sender.close()  # Only the child holds the sending end: EOF if it dies.
  try:
    result = receiver.recv()
  except EOFError:
    result = None
  finally:
    receiver.close()
    process.join()
  if result is None or process.exitcode != 0:
    raise RuntimeError(
        f"{process.name}{args!r} ended without a result, exit code "
        f"{process.exitcode} (-9: killed, often for memory); its output is "
        "above.")
  return result

