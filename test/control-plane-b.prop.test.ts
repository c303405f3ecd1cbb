/** Tier 4, second half of the HaControlPlane property runs, with the next seed. */
import { describeControlPlaneProperty } from "./helpers/control-plane-property";

describeControlPlaneProperty(1, 2);
