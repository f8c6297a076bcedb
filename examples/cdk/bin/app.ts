// A REST API defined in CDK that uses groupgate's authorizer-only stack
// (`groupgate synth --authorizer-only`, deployed as the stack named by the
// `authorizerStackName` context value). Built by `scripts/test.sh templates`
// (npm ci, cdk synth, cfn-lint); deploy/stack/tests/attach.rs checks that every
// `${authorizerStackName}-...` import is an export of that stack.
import { App, CfnOutput, Duration, Fn, Stack, StackProps } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

class PetsApiStack extends Stack {
  constructor(scope: Construct, id: string, authorizerStackName: string, props?: StackProps) {
    super(scope, id, props);

    const authorizerFunction = lambda.Function.fromFunctionAttributes(this, "GroupgateAuthorizer", {
      functionArn: Fn.importValue(`${authorizerStackName}-AuthorizerFunctionArn`),
      // The function is in this account and region (exports are imported only there), so
      // the authorizer below may add its invoke permission to it.
      sameEnvironment: true,
    });

    // The RequestAuthorizer grants apigateway.amazonaws.com the right to invoke the
    // function from this API's authorizer only (SourceArn `<api-id>/authorizers/<id>`).
    const authorizer = new apigateway.RequestAuthorizer(this, "Groupgate", {
      handler: authorizerFunction,
      // The token comes as `Authorization: Bearer <access token>`.
      identitySources: [apigateway.IdentitySource.header("Authorization")],
      // How long API Gateway caches the authorizer's policy per token (0 turns it off).
      resultsCacheTtl: Duration.seconds(300),
    });

    const hello = new lambda.Function(this, "Hello", {
      runtime: lambda.Runtime.PYTHON_3_13,
      handler: "index.handler",
      code: lambda.Code.fromInline(
        [
          "import json",
          "def handler(event, context):",
          "    caller = event['requestContext']['authorizer'].get('principalId')",
          "    return {'statusCode': 200, 'body': json.dumps({'hello': caller})}",
        ].join("\n"),
      ),
    });

    const api = new apigateway.RestApi(this, "Api", {
      deployOptions: { stageName: "v1" },
    });
    api.root
      .addResource("hello")
      .addMethod("GET", new apigateway.LambdaIntegration(hello), { authorizer });

    new CfnOutput(this, "ApiUrl", { value: api.url });
  }
}

const app = new App();
const authorizerStackName: string =
  app.node.tryGetContext("authorizerStackName") ?? "groupgate-authorizer";
new PetsApiStack(app, "GroupgateCdkExample", authorizerStackName);
