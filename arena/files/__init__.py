"""Reading uploaded files, shared by every import (prompts, answers, votes, benchmark scores).

``reading``: bounded line reader, CSV and JSON Lines records, column checks;
``report``: the row-by-row ``ImportReport`` and ``RowError``; ``uploads``: an
upload kept on disk between preview and confirmation; ``flow``: the admin's
upload → preview → confirm pages; ``cli``: printing a report from a command.
No module here knows what is being imported.
"""
