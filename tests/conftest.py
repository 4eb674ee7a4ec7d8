import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no model hub here, ever
