"""Runs the SAM transform (the same translator CloudFormation runs at deploy) on template.yaml once
for each allowed value of every parameter that has a list of them, and for the edge values of the
others, each time with the remaining parameters at their defaults. A value that cannot deploy
fails here instead of in a stack update. Prints "template-transforms: N passed, N failed".
"""

import copy
import logging
import os
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

# Values worth trying for parameters without AllowedValues.
SAMPLES = {
    "FirebaseProjectId": ["overten-prod"],
    "CorsAllowedOrigin": ["https://dashboard.overten.com", "https://localhost:8443"],
    "AlarmTopicArn": ["", "arn:aws:sns:us-east-1:123456789012:overten-oncall"],
    "ThrottlingRateLimit": ["1", "10000"],
    "ThrottlingBurstLimit": ["1", "5000"],
    "SignupThrottlingRateLimit": ["1", "100"],
    "SignupThrottlingBurstLimit": ["1", "200"],
    "SecretScanningThrottlingRateLimit": ["1", "100"],
    "SecretScanningThrottlingBurstLimit": ["1", "200"],
    "SecretScanningReservedConcurrency": ["1", "50"],
    "GithubTokenSecretArn": ["", "arn:aws:secretsmanager:us-east-1:123456789012:secret:overten/github-token-AbCdEf"],
}


class NoManagedPolicies:
    """The template names no managed policy by name, so nothing needs IAM to resolve."""

    def load(self):
        return {}


def main(path):
    # The translator fills in pseudo parameters (AWS::Region, …) from a boto session.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.disable(logging.WARNING)
    with open(path) as f:
        template = yaml_parse(f.read())
    # What `sam package` does before a deploy: local code folders become S3 objects.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://overten-artifacts/function.zip"
    parameters = template["Parameters"]
    defaults = {name: str(p["Default"]) for name, p in parameters.items() if "Default" in p}
    defaults.setdefault("FirebaseProjectId", "overten-prod")
    cases = []
    for name, p in parameters.items():
        values = [str(v) for v in p.get("AllowedValues", [])] or SAMPLES.get(name)
        if values is None:
            print(f"template-transforms: no values to try for parameter {name}; add them to SAMPLES")
            return 1
        cases += [(name, v) for v in values]
    passed = failed = 0
    for name, value in cases:
        values = dict(defaults, **{name: value})
        try:
            out = transform(copy.deepcopy(template), values, NoManagedPolicies())
            assert "AWS::Serverless::Function" not in str(out), "untransformed resources left"
            passed += 1
        except Exception as err:  # the translator's own errors say what is wrong
            failed += 1
            print(f"FAILED {name}={value!r}: {err}")
    print(f"template-transforms: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
