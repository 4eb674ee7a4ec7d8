"""specwise: does speculative decoding pay on your model and your traffic?"""

__version__ = "0.1.0"
