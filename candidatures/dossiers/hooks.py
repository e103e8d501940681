"""The seam through which packages built on the dossiers add their part to « mes données »
(the applicant's right of access), without the dossiers importing them.

``data_sections`` holds callables ``fn(candidature) -> (key, value)``; the view adds each
pair to the JSON export. Registered in ``candidatures/apps.py``.
"""

data_sections: list = []


def connect_data_section(function) -> None:
    if function not in data_sections:
        data_sections.append(function)
