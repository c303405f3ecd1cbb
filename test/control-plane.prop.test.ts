/** Tier 4, first half of the HaControlPlane property runs (see test/helpers/control-plane-property.ts). */
import { describeControlPlaneProperty } from "./helpers/control-plane-property";

describeControlPlaneProperty(0, 2);
