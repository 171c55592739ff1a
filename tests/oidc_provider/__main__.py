from tests.oidc_provider.serve import main

main()
