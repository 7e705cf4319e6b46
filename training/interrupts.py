"""Ctrl-C and SIGTERM during training: a request that a Keras fit honours at its next batch boundary.

Python runs a signal handler at whatever bytecode the main thread is on. Inside a fit that can be TensorFlow code
called back from C++ (an input pipeline being built or torn down), where an exception can abort the whole process
instead of unwinding it: CI once saw a trainer cancelled right after an epoch die of SIGABRT, not exit 130.
While a fit runs the handler only records the request, and a callback raises KeyboardInterrupt from plain Python
between batches, a few milliseconds later.
"""

from __future__ import annotations

import contextlib
import signal

_pending: int | None = None  # the signal waiting to be honoured
_fits_running = 0


def request_interrupt(signum, frame) -> None:
    """Signal handler: interrupt now, or at the next safe point while a fit is running."""
    global _pending
    if _fits_running:
        _pending = signum
        return
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> None:
    """Route Ctrl-C and SIGTERM (the app's Cancel) through request_interrupt."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job keeps ignoring Ctrl-C
        signal.signal(signal.SIGINT, request_interrupt)
    signal.signal(signal.SIGTERM, request_interrupt)


def raise_if_requested() -> None:
    global _pending
    if _pending is not None:
        signum, _pending = _pending, None
        raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def deferred_during_fit():
    """Hold interrupts back while TensorFlow runs; one that arrived meanwhile is raised on the way out."""
    global _fits_running
    _fits_running += 1
    try:
        yield
    finally:
        _fits_running -= 1
    raise_if_requested()  # a fit that ended between the signal and its next batch


def stop_fit_callback():
    """A Keras callback that raises a recorded interrupt at each batch and epoch boundary."""
    import keras

    class StopOnInterrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise_if_requested()

        def on_test_batch_end(self, batch, logs=None):
            raise_if_requested()

        def on_epoch_begin(self, epoch, logs=None):
            raise_if_requested()

    return StopOnInterrupt()
