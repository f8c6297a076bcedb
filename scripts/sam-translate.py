"""Prints the CloudFormation that the SAM transform makes of a SAM template: python3
scripts/sam-translate.py TEMPLATE. Offline: the template may name no managed policy (their ARNs
would be looked up in IAM), and AWS_DEFAULT_REGION only fills the pseudo parameters."""

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The managed policy map, empty: the examples attach no managed policy by name."""

    def load(self):
        return {}


def main(path):
    with open(path, encoding="utf-8") as file:
        template = yaml_parse(file.read())
    print(json.dumps(transform(template, {}, NoManagedPolicies()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
