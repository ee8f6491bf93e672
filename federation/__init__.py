"""The federation operator: an offline actor (a ministry, a consortium) that admits schools and
publishes the signed trust list (:mod:`certseal.trustlist`) and its transparency log."""
