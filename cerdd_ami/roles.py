"""Names of the groups that carry staff roles, shared by migrations, seeds and checks."""

CHARGE_DE_MISSION = "Chargé·e de mission"
JURY = "Jury"
DIRECTION = "Direction"
