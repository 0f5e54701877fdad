"""runyard: a queue and dashboard for training runs on your own GPU machines.

This module stays light: importing ``runyard`` must not import the server, the
database layer or any third-party package, because training scripts import
``runyard.report`` from here.
"""

__version__ = "0.1.0"
