"""Start callables at the same instant in threads, each with its own database connection."""

import threading

from django.db import connection


def run_together(*calls):
    """Run every callable in its own thread, released together by a barrier; return their results.

    An exception in a thread fails the caller, not just that thread.
    """
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # surfaced below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
