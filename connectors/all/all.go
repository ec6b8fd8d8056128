// Package all links every connector type into the binary: importing it for
// its side effects registers each sub-package's factory with package
// connectors. Add one blank import per connector sub-package.
package all

import (
	_ "github.com/gatehousehq/gatehouse/connectors/aws"
	_ "github.com/gatehousehq/gatehouse/connectors/entra"
	_ "github.com/gatehousehq/gatehouse/connectors/github"
	_ "github.com/gatehousehq/gatehouse/connectors/google"
	_ "github.com/gatehousehq/gatehouse/connectors/http"
	_ "github.com/gatehousehq/gatehouse/connectors/ldap"
	_ "github.com/gatehousehq/gatehouse/connectors/manual"
	_ "github.com/gatehousehq/gatehouse/connectors/okta"
	_ "github.com/gatehousehq/gatehouse/connectors/scim"
	_ "github.com/gatehousehq/gatehouse/connectors/simulated"
	_ "github.com/gatehousehq/gatehouse/connectors/slack"
)
