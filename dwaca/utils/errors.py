"""What a user's mistake looks like to the tools: one ``error: ...`` line and exit status 2, never a traceback."""
import sys
import urllib.error

import yaml

USAGE_ERROR = 2  # exit status of a user error, as argparse's


class UserError(Exception):
    """Base of dwaca's errors that a user's input causes (a bad pool, device, budget, annotation, ...), so the
    tools can report them without each naming every class."""


def error_message(err):
    """One line for ``err``: KeyError's text without the quotes str() adds, an OSError's reason and file."""
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def run_main(main, argv=None):
    """``main(argv)``, with the errors a user's input causes (a missing or bad path, config key or value,
    checkpoint, device, pool, a failed download) printed as one ``error: ...`` line and exit status 2 instead of
    a traceback. Other exceptions are bugs and keep theirs."""
    user_errors = (OSError, KeyError, ValueError, yaml.YAMLError, UserError)
    try:
        return main(argv)
    except urllib.error.URLError as err:  # an OSError; nothing but MODEL.WEIGHTS is downloaded
        message = (f"MODEL.WEIGHTS could not be downloaded ({getattr(err, 'reason', err)}); download it elsewhere "
                   "and set MODEL.WEIGHTS to the local file")
    except user_errors as err:
        message = error_message(err)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)
