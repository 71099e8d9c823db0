"""The hostile-input campaign: about 1,300 spoiled inputs through the real `openastro` command.

Run it with `python -m tests.campaign` (about 25 minutes on 2 cores); `tests/campaign/test_campaign.py` runs a
sample of it (marked slow). Every case must end in a result or in one clear line with exit status 2: no traceback,
no hang, no corrupt input accepted, no write outside the workspace or --out, nothing stored lost.
"""
