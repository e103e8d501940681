import factory
from django.contrib.auth.models import Group

from cerdd_ami import roles
from cerdd_ami.models import User

PASSWORD = "mot-de-passe-de-test-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"personne{n}@exemple.test")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.django.Password(PASSWORD)


class StaffFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


def charge_de_mission(**kwargs):
    return StaffFactory(role=roles.CHARGE_DE_MISSION, **kwargs)


def juror(**kwargs):
    return StaffFactory(role=roles.JURY, **kwargs)
